app "api" {
  container {
    type = "DOCKER"
  }
}

app "web" {
  container {
    docker {
      network = "BRIDGE"
    }
  }
}

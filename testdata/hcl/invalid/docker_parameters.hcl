app "api" {
  container {
    docker {
      image      = "nginx:1.25"
      parameters = [{ key = "label" }]
    }
  }
}

app "web" {
  container {
    docker {
      image      = "nginx:1.25"
      parameters = "label=a"
    }
  }
}

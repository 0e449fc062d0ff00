app {
  cmd = "exec ./api"
}

group "shop" {
  app "api" {
    cmd = "exec ./api"

    port {
      number = 0
    }
  }
}

app "api" {
  cmd = "exec ./api"

  port "http" {}

  service {
    name = "API"
    port = "web"
  }
}

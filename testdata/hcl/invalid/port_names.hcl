app "api" {
  cmd = "exec ./api"

  port "HTTP" {}

  port "admin" {
    number = 70000
  }

  port "admin" {}
}

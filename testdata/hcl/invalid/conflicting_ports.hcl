app "api" {
  cmd   = "exec ./api"
  ports = [0]

  port "http" {}
}

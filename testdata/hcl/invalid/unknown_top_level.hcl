application "api" {
  cmd = "exec ./api"
}

region = "eu"

app "api" {
  cmd = "exec ./api"

  constraint {
    attribute = "hostname"
  }
}

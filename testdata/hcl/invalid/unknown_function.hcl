app "api" {
  cmd  = uppercase("exec ./api")
  user = file("/etc/user")
}

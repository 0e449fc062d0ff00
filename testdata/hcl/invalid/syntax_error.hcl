app "api" {
  cmd = "exec ./api
}

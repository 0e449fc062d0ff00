app "api" {
  cmd = 1e600000000
}

app "api" {
  cmd  = "exec ./api"
  args = ["a", null]
  env  = { A = null }
}

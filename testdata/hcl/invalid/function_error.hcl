app "api" {
  cmd = jsondecode("{")
  env = { A = element([], 0) }
}

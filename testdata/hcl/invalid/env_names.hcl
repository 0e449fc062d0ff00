app "api" {
  cmd    = "exec ./api"
  env    = { "A=B" = "x", "" = "y", OK = "z" }
  args   = ["", "--ok"]
}

app "api" {
  comand    = "exec ./api"
  instances = 2
}

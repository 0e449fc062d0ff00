app "api" {
  instances = 2
}

app "both" {
  cmd  = "exec ./api"
  args = ["./api"]
}

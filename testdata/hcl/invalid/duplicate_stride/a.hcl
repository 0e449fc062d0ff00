stride {
  scope = "/"
}

app "api" {
  cmd = "exec ./api"
}

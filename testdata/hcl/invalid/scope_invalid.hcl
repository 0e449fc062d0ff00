stride {
  scope = "shop/"
}

app "api" {
  cmd = "exec ./api"
}

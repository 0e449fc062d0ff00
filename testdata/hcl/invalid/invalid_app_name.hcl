app "Api_v2" {
  cmd = "exec ./api"
}

app "-api" {
  cmd = "exec ./api"
}

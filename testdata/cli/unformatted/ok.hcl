app "ok" {
  cmd = "sleep 1000"
}

app "api" {
  cmd = "exec ./api"

  fetch {
    extract = false
  }
}

app "api" {
  cmd  = "exec ./api"
  uris = ["https://example.com/api.tgz"]

  fetch {
    uri = "https://example.com/api.tgz"
  }
}

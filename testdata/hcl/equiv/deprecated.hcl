# Marathon's deprecated forms: uris (archives are extracted) and ports.
app "api" {
  cmd   = "exec ./api"
  uris  = ["https://example.com/api.tar.gz", "https://example.com/api.conf", "https://example.com/static.zip"]
  ports = [10013, 0]
}

app "quiet" {
  cmd   = "exec ./quiet"
  ports = []
  uris  = []
}

group "Shop" {
  app "api" {
    cmd = "exec ./api"
  }
}

group "a/b" {
}

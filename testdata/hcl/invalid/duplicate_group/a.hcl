group "shop" {
  app "api" {
    cmd = "exec ./api"
  }
}

app "shop" {
  cmd = "exec ./shop"
}

group "shop" {
  app "api" {
    cmd = "exec ./api"
  }
}

group "shop" {
  app "api" {
    cmd        = "exec ./api"
    depends_on = ["api", "./api"]
  }
}

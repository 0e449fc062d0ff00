group "shop" {
  app "db" {
    cmd = "exec ./db"
  }

  app "api" {
    cmd        = "exec ./api"
    depends_on = ["dbx", "/shop/cache", "../infra"]
  }
}

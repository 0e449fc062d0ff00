group "shop" {
  depends_on = ["shop", "shop/db", "/"]

  app "db" {
    cmd = "exec ./db"
  }
}

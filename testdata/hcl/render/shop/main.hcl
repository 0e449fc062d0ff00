stride {
  scope = "/shop"
}

group "shop" {
  app "db" {
    cmd = "exec ./db"
  }

  app "api" {
    cmd        = "exec ./api"
    depends_on = ["dbx"]
    instances  = "three"
    constraints = [
      ["hostname",
      "UNIQUE", "x", "y"],
    ]
  }
}

stride {
  scope = "/shop"
}

group "shop" {
  app "api" {
    cmd        = "exec ./api"
    depends_on = ["/infra/db"] # outside the scope: it must be deployed
  }
}

stride {
  scope = "/shop"
}

group "shop" {
  app "api" {
    cmd = "exec ./api"
  }
}

app "other" {
  cmd = "exec ./other"
}

group "shopping" {
  app "cart" {
    cmd = "exec ./cart"
  }
}

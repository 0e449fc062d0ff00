app "api" {
  cmd = "exec ./api"
  env = {
    PASSWORD = { secret = "db-pass" }
    TOKEN    = { secret = 1, other = 2 }
  }

  secret "db-password" {
    source = ""
  }
}

app "web" {
  cmd = "exec ./web"
  env = { PASSWORD = { secret = "nope" } }
}

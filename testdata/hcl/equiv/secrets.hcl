# Env secrets in Marathon's form (beyond LANGUAGE.md's table): an env value
# { secret = "name" } names a secret block.
app "api" {
  cmd = "exec ./api"
  env = {
    LOG_LEVEL = "info"
    PASSWORD  = { secret = "db-password" }
  }

  secret "db-password" {
    source = "/shop/db/password"
  }
}

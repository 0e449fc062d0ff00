app "api" {
  cmd = "exec ./api"

  constraint { attribute = "hostname" operator = "UNIQUE" }
}

app "api" {
  cmd = "exec ./api"
  constraints = [
    ["hostname", "UNIQUE"],
    ["hostname"],
    ["rack_id", "GROUP_BY", "2", "extra"],
    "hostname:UNIQUE",
  ]
}

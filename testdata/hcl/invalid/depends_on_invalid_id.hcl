app "db" {
  cmd = "exec ./db"
}

app "api" {
  cmd        = "exec ./api"
  depends_on = ["../../db", "DB", "", 42, null]
}

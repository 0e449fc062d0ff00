# The password ends up where a kill selection and a duration are expected: the
# errors name the fields, never the value.
variable "db_password" {
  type      = string
  sensitive = true
}

app "api" {
  cmd            = "exec ./api"
  kill_selection = "${var.db_password}-FIRST"

  deployment {
    progress_deadline = var.db_password
  }
}

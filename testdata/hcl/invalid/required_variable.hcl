variable "tag" {
  type        = string
  description = "The release to deploy."
}

app "api" {
  cmd = "exec ./api --version ${var.tag}"
}

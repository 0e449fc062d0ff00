variable "tag" {
  default = "1"
}

variable "tag" {
  default = "2"
}

app "api" {
  cmd = "exec ./api --version ${var.tag}"
}

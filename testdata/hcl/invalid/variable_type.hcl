variable "ports" {
  type    = list(number)
  default = ["http"]
}

variable "mode" {
  type = strin
}

app "api" {
  cmd   = "exec ./api"
  ports = var.ports
}

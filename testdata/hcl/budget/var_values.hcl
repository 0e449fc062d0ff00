variable "text" {
  type    = string
  default = ""
}

variable "list" {
  type    = list(any)
  default = []
}

variable "num" {
  type    = number
  default = 0
}

variable "tag" {
  type = string
}

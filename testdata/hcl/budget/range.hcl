locals {
  x = range(1e9)
}

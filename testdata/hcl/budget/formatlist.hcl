locals {
  x = formatlist("%100000s", range(1000))
}

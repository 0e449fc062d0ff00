locals {
  x = toset(setproduct(range(400), range(400)))
}

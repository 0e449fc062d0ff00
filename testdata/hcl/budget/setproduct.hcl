locals {
  x = setproduct(range(1000), range(1000), range(1000))
}

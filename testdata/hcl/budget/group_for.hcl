group "shop" {
  labels = { for i in range(1000) : "k${i}" => join(",", [for j in range(1000) : "${i}-${j}"]) }
}

locals {
  ids      = flatten([for i in range(5) : range(1000)])
  names    = [for i in local.ids : "svc-${i}"]
  pairs    = setproduct(range(100), range(100))
  one_mib  = join("", [for i in range(1024) : join("", [for j in range(16) : "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])])
  fallback = try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(try(local.missing.x, 1), 2), 3), 4), 5), 6), 7), 8), 9), 10), 11), 12), 13), 14), 15), 16), 17), 18), 19), 20), 21), 22), 23), 24), 25), 26), 27), 28), 29), 30), 31), 32), 33), 34), 35), 36), 37), 38), 39), 40)
  missing  = {}
}

app "api" {
  cmd    = "exec ./api --replicas ${length(local.names)} --pairs ${length(local.pairs)} --size ${length(local.one_mib)} --try ${local.fallback}"
  labels = { for i in range(100) : "k${i}" => local.names[i] }
}

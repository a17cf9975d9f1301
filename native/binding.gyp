{
  "variables": { "onednn%": 0 },
  "targets": [
    {
      "target_name": "reprobook_kernels",
      "sources": ["src/kernels.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"],
      "conditions": [
        ["onednn==1", {
          "sources": ["src/onednn.c"],
          "defines": ["REPROBOOK_ONEDNN"],
          "libraries": ["-ldnnl", "-lgomp"]
        }]
      ]
    }
  ]
}

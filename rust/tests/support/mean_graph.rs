//! A trivial frozen graph shared by the integration tests and the criterion
//! benches: the engine's own cost per image without a network's.

use tensorflow::{DataType as TfType, Graph, Output, Shape, Tensor};

/// Loads libtensorflow from `$SPARKDL_TENSORFLOW_LIB_DIR` (build/engine-env.sh sets it).
pub fn load_tensorflow() {
    let dir = std::env::var_os("SPARKDL_TENSORFLOW_LIB_DIR")
        .expect("SPARKDL_TENSORFLOW_LIB_DIR is not set: source build/engine-env.sh first");
    sparkdl::backends::tensorflow::library::load(std::path::Path::new(&dir)).expect("loading libtensorflow");
}

/// features = mean(input, axes [1, 2]): [n, size, size, 3] -> [n, 3].
pub fn mean_graph(size: i64) -> Vec<u8> {
    load_tensorflow();
    let mut g = Graph::new();
    let mut d = g.new_operation("Placeholder", "input").unwrap();
    d.set_attr_type("dtype", TfType::Float).unwrap();
    d.set_attr_shape("shape", &Shape::from(Some(vec![None, Some(size), Some(size), Some(3)]))).unwrap();
    let input = d.finish().unwrap();
    let mut d = g.new_operation("Const", "axes").unwrap();
    d.set_attr_type("dtype", TfType::Int32).unwrap();
    d.set_attr_tensor("value", Tensor::new(&[2]).with_values(&[1i32, 2]).unwrap()).unwrap();
    let axes = d.finish().unwrap();
    let mut d = g.new_operation("Mean", "features").unwrap();
    d.add_input(Output { operation: input, index: 0 });
    d.add_input(Output { operation: axes, index: 0 });
    d.finish().unwrap();
    g.graph_def().unwrap()
}

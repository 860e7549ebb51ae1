//! Tiny graphs built in Rust for the tests: y = relu(x·W + b) with W, b as
//! constants, as TF1 variables (VariableV2 + Assign) or as resource variables
//! (VarHandleOp + AssignVariableOp + ReadVariableOp), a SavedModel of it, and
//! a small convolution.

use tensorflow::ops;
use tensorflow::{
    DataType, Graph, Operation, Output, SavedModelBuilder, Scope, Session, SessionOptions, SessionRunArgs, Shape,
    SignatureDef, Tensor, TensorInfo, Variable,
};

use crate::backends::tensorflow::model::TfModel;
use crate::engine::config::EngineConfig;

/// Loads libtensorflow from `$SPARKDL_TENSORFLOW_LIB_DIR` (build/engine-env.sh
/// sets it) for the tests; every graph builder here calls it first.
pub fn ensure_loaded() {
    let dir = std::env::var_os("SPARKDL_TENSORFLOW_LIB_DIR")
        .expect("SPARKDL_TENSORFLOW_LIB_DIR is not set: source build/engine-env.sh before cargo test");
    crate::backends::tensorflow::library::load(std::path::Path::new(&dir)).expect("loading libtensorflow");
}

/// The dense graph, loaded with the default settings.
pub fn dense_model() -> TfModel {
    TfModel::from_graph_def(&dense_graph_def(), &EngineConfig::default()).unwrap()
}

pub const W: [f32; 6] = [1.0, -1.0, 0.5, 2.0, -2.0, 0.25];
pub const B: [f32; 2] = [0.5, -1.0];

/// relu(x·W + b) for one example `x` of 3 values, in f32 as TensorFlow computes it.
pub fn dense_expected(x: &[f32]) -> Vec<f64> {
    (0..2)
        .map(|j| {
            let s = x[0] * W[j] + x[1] * W[2 + j] + x[2] * W[4 + j] + B[j];
            f64::from(s.max(0.0))
        })
        .collect()
}

pub fn op(g: &mut Graph, op_type: &str, name: &str, inputs: &[&Operation]) -> Operation {
    ensure_loaded();
    let mut d = g.new_operation(op_type, name).unwrap();
    for i in inputs {
        d.add_input(Output { operation: (*i).clone(), index: 0 });
    }
    d.finish().unwrap()
}

pub fn placeholder(g: &mut Graph, name: &str, dtype: DataType, shape: Option<Vec<Option<i64>>>) -> Operation {
    ensure_loaded();
    let mut d = g.new_operation("Placeholder", name).unwrap();
    d.set_attr_type("dtype", dtype).unwrap();
    if let Some(s) = shape {
        d.set_attr_shape("shape", &Shape::from(Some(s))).unwrap();
    }
    d.finish().unwrap()
}

pub fn constant(g: &mut Graph, name: &str, dims: &[u64], values: &[f32]) -> Operation {
    ensure_loaded();
    let t = Tensor::<f32>::new(dims).with_values(values).unwrap();
    let mut d = g.new_operation("Const", name).unwrap();
    d.set_attr_type("dtype", DataType::Float).unwrap();
    d.set_attr_tensor("value", t).unwrap();
    d.finish().unwrap()
}

pub fn int_const(g: &mut Graph, name: &str, dims: &[u64], values: &[i32]) -> Operation {
    ensure_loaded();
    let t = Tensor::<i32>::new(dims).with_values(values).unwrap();
    let mut d = g.new_operation("Const", name).unwrap();
    d.set_attr_type("dtype", DataType::Int32).unwrap();
    d.set_attr_tensor("value", t).unwrap();
    d.finish().unwrap()
}

/// x: float [?, 3] -> y = relu(x·W + b): float [?, 2] (`total`: its sum, a
/// scalar); also `any`, a float
/// placeholder of unknown rank (`neg_any` = -any), and `xi`, an int32 [?, 2] placeholder with `yi` = xi + xi.
pub fn dense_graph_def() -> Vec<u8> {
    ensure_loaded();
    let mut g = Graph::new();
    let w = constant(&mut g, "W", &[3, 2], &W);
    let b = constant(&mut g, "b", &[2], &B);
    dense_on(&mut g, &w, &b);
    g.graph_def().unwrap()
}

fn dense_on(g: &mut Graph, w: &Operation, b: &Operation) {
    let x = placeholder(g, "x", DataType::Float, Some(vec![None, Some(3)]));
    let xw = op(g, "MatMul", "xw", &[&x, w]);
    let z = op(g, "Add", "z", &[&xw, b]);
    let y = op(g, "Relu", "y", &[&z]);
    let axes = int_const(g, "total/axes", &[2], &[0, 1]);
    op(g, "Sum", "total", &[&y, &axes]);
    let any = placeholder(g, "any", DataType::Float, None);
    op(g, "Neg", "neg_any", &[&any]);
    let xi = placeholder(g, "xi", DataType::Int32, Some(vec![None, Some(2)]));
    op(g, "Add", "yi", &[&xi, &xi]);
}

/// The dense graph with W and b as TF1 variables (`VariableV2`, read through
/// `W/read` Identities), assigned by `init`; plus a step counter updated by
/// `train` (AssignAdd) that y does not need.
pub fn variable_graph_def() -> Vec<u8> {
    ensure_loaded();
    let mut g = Graph::new();
    let mut vars = Vec::new();
    for (name, dims, values) in [("W", vec![3i64, 2], &W[..]), ("b", vec![2], &B[..])] {
        let mut d = g.new_operation("VariableV2", name).unwrap();
        d.set_attr_type("dtype", DataType::Float).unwrap();
        d.set_attr_shape("shape", &Shape::from(Some(dims.iter().map(|x| Some(*x)).collect()))).unwrap();
        let var = d.finish().unwrap();
        let udims: Vec<u64> = dims.iter().map(|x| *x as u64).collect();
        let init = constant(&mut g, &format!("{name}/initial_value"), &udims, values);
        let assign = op(&mut g, "Assign", &format!("{name}/Assign"), &[&var, &init]);
        let read = op(&mut g, "Identity", &format!("{name}/read"), &[&var]);
        vars.push((assign, read));
    }
    let mut step = g.new_operation("VariableV2", "step").unwrap();
    step.set_attr_type("dtype", DataType::Float).unwrap();
    step.set_attr_shape("shape", &Shape::from(Some(vec![]))).unwrap();
    let step = step.finish().unwrap();
    let zero = constant(&mut g, "step/zero", &[], &[0.0]);
    let step_init = op(&mut g, "Assign", "step/Assign", &[&step, &zero]);
    let one = constant(&mut g, "step/one", &[], &[1.0]);
    op(&mut g, "AssignAdd", "train", &[&step, &one]);
    let mut init = g.new_operation("NoOp", "init").unwrap();
    init.add_control_input(&vars[0].0);
    init.add_control_input(&vars[1].0);
    init.add_control_input(&step_init);
    init.finish().unwrap();
    let (w, b) = (vars[0].1.clone(), vars[1].1.clone());
    dense_on(&mut g, &w, &b);
    g.graph_def().unwrap()
}

/// The dense graph with W and b as resource variables: `VarHandleOp`,
/// `AssignVariableOp` (run by `init`) and `ReadVariableOp` (`W/Read`).
pub fn resource_graph_def() -> Vec<u8> {
    ensure_loaded();
    let mut g = Graph::new();
    let mut reads = Vec::new();
    let mut assigns = Vec::new();
    for (name, dims, values) in [("W", vec![3i64, 2], &W[..]), ("b", vec![2], &B[..])] {
        let mut d = g.new_operation("VarHandleOp", name).unwrap();
        d.set_attr_type("dtype", DataType::Float).unwrap();
        d.set_attr_shape("shape", &Shape::from(Some(dims.iter().map(|x| Some(*x)).collect()))).unwrap();
        d.set_attr_string("shared_name", name).unwrap();
        let handle = d.finish().unwrap();
        let udims: Vec<u64> = dims.iter().map(|x| *x as u64).collect();
        let init = constant(&mut g, &format!("{name}/initial_value"), &udims, values);
        let mut a = g.new_operation("AssignVariableOp", &format!("{name}/Assign")).unwrap();
        a.add_input(Output { operation: handle.clone(), index: 0 });
        a.add_input(Output { operation: init, index: 0 });
        a.set_attr_type("dtype", DataType::Float).unwrap();
        assigns.push(a.finish().unwrap());
        let mut r = g.new_operation("ReadVariableOp", &format!("{name}/Read")).unwrap();
        r.add_input(Output { operation: handle, index: 0 });
        r.set_attr_type("dtype", DataType::Float).unwrap();
        reads.push(r.finish().unwrap());
    }
    let mut init = g.new_operation("NoOp", "init").unwrap();
    for a in &assigns {
        init.add_control_input(a);
    }
    init.finish().unwrap();
    let (w, b) = (reads[0].clone(), reads[1].clone());
    dense_on(&mut g, &w, &b);
    g.graph_def().unwrap()
}

/// x: float [?, 4, 4, 1] -> Conv2D with a 2x2x1x2 filter (VALID) -> mean over
/// height and width -> y: float [?, 2].
pub fn conv_graph_def() -> Vec<u8> {
    ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", DataType::Float, Some(vec![None, Some(4), Some(4), Some(1)]));
    let f = constant(&mut g, "filter", &[2, 2, 1, 2], &[1.0, 0.5, -1.0, 0.25, 2.0, 0.0, 0.5, -0.5]);
    let mut d = g.new_operation("Conv2D", "conv").unwrap();
    d.add_input(Output { operation: x, index: 0 });
    d.add_input(Output { operation: f, index: 0 });
    d.set_attr_int_list("strides", &[1, 1, 1, 1]).unwrap();
    d.set_attr_string("padding", "VALID").unwrap();
    let conv = d.finish().unwrap();
    let axes = int_const(&mut g, "axes", &[2], &[1, 2]);
    op(&mut g, "Mean", "y", &[&conv, &axes]);
    g.graph_def().unwrap()
}

/// Writes a TF1 SavedModel of the dense graph (variables W, b; signature
/// "predict": x -> y; tag "serve") into a fresh temporary folder.
pub fn write_saved_model(name: &str) -> String {
    ensure_loaded();
    let dir = std::env::temp_dir().join(format!("sparkdl-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut scope = Scope::new_root_scope();
    let x = ops::Placeholder::new()
        .dtype(DataType::Float)
        .shape(Shape::from(Some(vec![None, Some(3)])))
        .build(&mut scope.with_op_name("x"))
        .unwrap();
    let w = Variable::builder()
        .const_initial_value(Tensor::<f32>::new(&[3, 2]).with_values(&W).unwrap())
        .build(&mut scope.with_op_name("W"))
        .unwrap();
    let b = Variable::builder()
        .const_initial_value(Tensor::<f32>::new(&[2]).with_values(&B).unwrap())
        .build(&mut scope.with_op_name("b"))
        .unwrap();
    let xw = ops::mat_mul(x.clone(), w.output().clone(), &mut scope.with_op_name("xw")).unwrap();
    let z = ops::add(xw, b.output().clone(), &mut scope.with_op_name("z")).unwrap();
    let y = ops::relu(z, &mut scope.with_op_name("y")).unwrap();
    let mut sig = SignatureDef::new("tensorflow/serving/predict".to_string());
    sig.add_input_info("x".into(), TensorInfo::new(DataType::Float, Shape::from(None), "x:0".parse().unwrap()));
    sig.add_output_info("y".into(), TensorInfo::new(DataType::Float, Shape::from(None), "y:0".parse().unwrap()));
    let mut builder = SavedModelBuilder::new();
    builder.add_collection("variables", &[w.clone(), b.clone()]).add_tag("serve").add_signature("predict", sig);
    let saver = builder.inject(&mut scope).unwrap();
    let graph = scope.graph();
    let session = Session::new(&SessionOptions::new(), &graph).unwrap();
    let mut init = SessionRunArgs::new();
    init.add_target(w.initializer());
    init.add_target(b.initializer());
    session.run(&mut init).unwrap();
    saver.save(&session, &graph, &dir).unwrap();
    let _ = y;
    dir.to_string_lossy().into_owned()
}

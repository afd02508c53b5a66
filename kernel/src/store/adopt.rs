//! Program mode's instantiation of a module with a prebuilt instance (see
//! [`Prebuilt`]): the compiler laid the instance out ahead of time, so the kernel only
//! creates its memories and tables, copies in their initial contents and links them into
//! the laid-out context. This runs at every boot of such a program: under TCG every
//! instruction run once costs its translation, so it does no more than that.

use super::instantiate::start_function;
use super::{Callable, InstError, Instance, Machine, Store};
use crate::bulk;
use crate::image::Trusted;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use hako_abi::module::{ModuleDescriptor, Prebuilt};
use hako_abi::trap::TrapCode;

impl Store {
    /// Adopt `pre`, the prebuilt instance of `desc`. Only for the store's first instance
    /// (id 0, as the layout has it), which is also what keeps a prebuilt instance's data
    /// from serving two instances. The type registry is left alone: the layout carries the
    /// module's canonical type ids, and the registry is only asked about types of imports
    /// and in script mode.
    pub(super) fn adopt(
        &mut self,
        machine: &mut dyn Machine,
        desc: Trusted<ModuleDescriptor>,
        pre: Trusted<Prebuilt>,
    ) -> Result<(usize, Option<Callable>), InstError> {
        let (mems, tabs) = (desc.memories(), desc.tables());
        let inits = pre.table_inits();
        if pre.memory_slots.len != mems.len() as u64
            || pre.table_slots.len != tabs.len() as u64
            || inits.len() != tabs.len()
        {
            return Err(InstError::Error(
                "the prebuilt instance does not match its descriptor".into(),
            ));
        }
        let mut memories = Vec::with_capacity(mems.len());
        for (i, m) in mems.as_slice().iter().enumerate() {
            let id = self.new_memory(
                machine,
                m.min_pages,
                m.max_pages,
                m.memory64 != 0,
                m.shared != 0,
            )?;
            memories.push(id);
            pre.link_memory(i, self.memories[id].memory.def_ptr());
        }
        let mut tables = Vec::with_capacity(tabs.len());
        for (i, (t, init)) in tabs.as_slice().iter().zip(inits.iter()).enumerate() {
            let init = init.items().as_slice();
            if init.len() as u64 != t.min {
                return Err(InstError::Error(format!(
                    "prebuilt table {i} has {} entries, not {}",
                    init.len(),
                    t.min
                )));
            }
            let id = self.new_table_from(t.elem_type, init, t.max, t.table64 != 0)?;
            tables.push(id);
            pre.link_table(i, &mut self.tables[id].def);
        }
        for d in pre.data_inits().iter() {
            let Some(&m) = memories.get(d.memory as usize) else {
                return Err(InstError::Error(format!("bad memory {}", d.memory)));
            };
            let bytes = d.bytes().as_slice();
            let to = self.memories[m].memory.bytes();
            let n = bytes.len() as u64;
            bulk::copy_from(to, bytes, d.offset, 0, n, TrapCode::DataSegmentOutOfBounds)
                .map_err(InstError::Trap)?;
        }
        let funcs = pre.funcs().as_slice();
        let start = start_function(&desc, funcs)?;
        self.instances.push(Box::new(Instance {
            desc,
            prebuilt: true,
            vmctx: pre.vmctx,
            funcs,
            memories,
            tables,
            globals: pre.globals(),
            tags: Vec::new(),
            type_ids: pre.type_ids().as_slice(),
            imported_global_types: Vec::new(),
            data: Vec::new(),
            elems: Vec::new(),
        }));
        Ok((self.instances.len() - 1, start))
    }
}

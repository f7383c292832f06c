import { runStorageCompliance } from "./compliance.ts";
import { MemoryStorage } from "./memory.ts";

runStorageCompliance("memory", async () => {
  const storage = new MemoryStorage();
  return { storage, cleanup: () => storage.close() };
});

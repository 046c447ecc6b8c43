// `prisma db pull` offline: Prisma 6.19's JavaScript schema engine (engine: "js") through
// @prisma/adapter-pg, so no Rust engine has to be downloaded.
//
// The schema engine's introspection reads PostgreSQL's catalog, whose columns of type
// `name` (OID 19) and `"char"` (OID 18) adapter-pg has no column type for ("Column type
// 'name' could not be deserialized from the database"). The adapter's queryRaw is wrapped
// to report `name` as text and `"char"` as a single character, which they are.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

const CHAR = 18;
const NAME = 19;
const TEXT = 25;
const CHARACTER = 6; // ColumnTypeEnum.Character of @prisma/driver-adapter-utils

function readCatalogTypes(adapter: object): void {
  let proto = Object.getPrototypeOf(adapter);
  while (proto && !Object.hasOwn(proto, "queryRaw")) proto = Object.getPrototypeOf(proto);
  if (!proto || proto.readsCatalogTypes) return;
  const queryRaw = proto.queryRaw;
  proto.queryRaw = async function (query: unknown) {
    const chars: number[] = [];
    const call = Object.create(this);
    call.performIO = async (...args: unknown[]) => {
      const result = await this.performIO(...args);
      result.fields.forEach((field: { dataTypeID: number }, i: number) => {
        if (field.dataTypeID === CHAR) chars.push(i);
        if (field.dataTypeID === CHAR || field.dataTypeID === NAME) field.dataTypeID = TEXT;
      });
      return result;
    };
    const result = await queryRaw.call(call, query);
    for (const i of chars) result.columnTypes[i] = CHARACTER;
    return result;
  };
  proto.readsCatalogTypes = true;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "pull.prisma",
  async adapter() {
    const factory = new PrismaPg({ connectionString: process.env.DATABASE_URL! });
    const connect = factory.connect.bind(factory);
    factory.connect = async () => {
      const adapter = await connect();
      readCatalogTypes(adapter);
      return adapter;
    };
    return factory;
  },
});
